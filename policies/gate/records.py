"""The one record of a resource, shared by the mock engine (which captures it, in the program's own
interpreter) and the judging side (documents, rules, reports). It lives in mockengine/records.py so
that the engine needs nothing outside its own directory."""

from .mockengine.records import Resource

__all__ = ["Resource"]
