"""One module per way the Pulumi CLI finds a Python program's interpreter (pip, poetry, uv), each
exposing `NAME` and `find(options, environ) -> Interpreter`; common.py holds what they share."""
