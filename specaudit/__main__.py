"""``python -m specaudit``: the CLI, for launchers that start Python modules.

``accelerate launch -m specaudit run ...`` and ``torchrun -m specaudit run ...``
need this; the ``specaudit`` console script is the same entry point.
"""

from specaudit.cli import main

main()
