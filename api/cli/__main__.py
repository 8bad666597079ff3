"""`python -m api.cli`: the same as `tiaokuai`."""

from api.cli.app import main

main()
