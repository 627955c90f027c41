"""One ComponentResource per concern; each module's docstring lists what it creates."""
