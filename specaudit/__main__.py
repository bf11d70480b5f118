"""``python -m specaudit``: the CLI, for launchers that start Python modules.

``accelerate launch -m specaudit run ...`` and ``torchrun -m specaudit run ...``
need this; the ``specaudit`` console script is the same entry point.

The guard matters: vLLM (``--backend vllm``) starts its engine processes by
spawn, which re-imports this module in each of them.
"""

from specaudit.cli import main

if __name__ == "__main__":
    main()
