"""linewatch: boundary-camera footage in, investigation findings out."""

__version__ = "0.1.0"
