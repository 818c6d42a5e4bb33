"""User-facing errors: one line, says what is wrong and what to do."""


class GanbenchError(Exception):
    """A mistake in the user's input (spec, suite, name, data); reported in one line, never a traceback."""


class SpecError(GanbenchError):
    """A run spec or suite that cannot be built: unknown key, bad value, impossible combination."""


class DataError(GanbenchError):
    """A data set that is missing or unreadable."""


class ResultsError(GanbenchError):
    """A results directory in a state that would lose or overwrite a user's results."""


class MetricError(GanbenchError):
    """A metric that cannot be computed as asked: feature-extractor weights missing offline, unreadable weights."""


class ConfigError(GanbenchError):
    """An execution setting this machine cannot honour: a device it lacks, an executor it cannot reach."""
