"""``python -m fitting_room`` is the same CLI as the ``fitting-room`` console script."""

from fitting_room.cli import run

run()
