"""One router per resource, included into the resolver by functions/api/app.py."""
