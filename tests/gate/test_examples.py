"""The shipped example CI workflow is valid YAML and gates the way the docs say."""

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).parents[2] / "examples" / "ci" / "github-workflow.yml"


def test_workflow_audits_on_a_gpu_runner_gates_and_uploads():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == ["self-hosted", "gpu"]
    scripts = "\n".join(step.get("run", "") for step in job["steps"])
    assert "specaudit run" in scripts and "--device cuda" in scripts
    assert "specaudit gate" in scripts
    assert "--junit" in scripts and "--summary" in scripts and "--baseline" in scripts
    upload = next(
        s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ env.RUN_DIR }}"
