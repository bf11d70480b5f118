"""``specaudit run`` declares each RunConfig field once: its options come from the model."""

from __future__ import annotations

import inspect

import typer
from pydantic import Field

from specaudit.audit.config import RunConfig
from specaudit.cli import app
from specaudit.cli_config import config_overrides, config_parameters, field_help


def _run_options() -> dict:
    command = typer.main.get_command(app).commands["run"]
    return {p.name: p for p in command.params if p.param_type_name == "option"}


def test_every_runconfig_field_is_a_run_option_with_its_comment_as_help():
    options = _run_options()
    helps = field_help(RunConfig)
    for name in RunConfig.model_fields:
        assert name in options, f"RunConfig.{name} has no --{name.replace('_', '-')} option"
        option = options[name]
        assert f"--{name.replace('_', '-')}" in option.opts
        assert helps[name] in option.help, (name, option.help)
        assert option.default is None  # "not given": a --config file's value survives


def test_every_runconfig_field_has_a_comment():
    assert set(field_help(RunConfig)) >= set(RunConfig.model_fields)


def test_existing_flag_spellings_are_kept():
    options = _run_options()
    assert options["prompts"].multiple
    assert options["trust_remote_code"].secondary_opts == ["--no-trust-remote-code"]
    assert options["gate_policy"].opts == ["--gate"]
    assert "--n-prompts" in options["n_prompts"].opts
    assert "--shard-by" in options["shard_by"].opts


def test_a_new_field_becomes_an_option_without_a_cli_edit():
    class Later(RunConfig):
        repeats: int = Field(1, ge=1)  #: timed repeats of each decode

    def command(**fields):
        return fields

    params = config_parameters(Later)
    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    later = typer.Typer()
    later.command()(command)
    options = {p.name: p for p in typer.main.get_command(later).params}
    option = options["repeats"]
    assert option.opts == ["--repeats"]
    assert option.help.startswith("timed repeats of each decode") and "(default: 1)" in option.help
    overrides = config_overrides(Later, {"repeats": 3, "languages": "en, sw", "prompts": []})
    assert overrides["repeats"] == 3
    assert overrides["languages"] == ["en", "sw"]
    assert overrides["prompts"] is None  # no --prompts: keep the config file's
    assert Later.model_validate({k: v for k, v in overrides.items() if v is not None}).repeats == 3


def test_literal_fields_name_their_choices():
    params = {p.name: p for p in config_parameters(RunConfig)}
    assert params["mode"].annotation.__metadata__[0].help.startswith("greedy, sampling: ")
