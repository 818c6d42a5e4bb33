"""Run and suite specifications, one module per thing they hold: `run` (a run's identity: RunSpec, its hash and
run_id), `fields` (the run-spec fields as data — types, ranges, defaults, help — and reading user-given values),
`resolve` (building a checked RunSpec from a data set's defaults and field layers) and `suite` (suite files: schema,
grid expansion, scales, search)."""
from ganbench.spec.run import OBSERVATION_FIELDS, RunSpec, TrickSpec, identity
from ganbench.spec.fields import (DEFAULTS, FIELD_HELP, FIELDS, FLOAT_RANGE, INT_MIN, SCALARS, check_keys,
                                  check_scalar, merge, parse_set, parse_tricks, read_value)
from ganbench.spec.resolve import build_spec, check_buildable, check_features, check_protocols, trick_label
from ganbench.spec.suite import (SCALE_KEYS, SUITE_KEYS, Suite, check_labels, find_suite, list_suites, load_suite,
                                 render_reference, suites_dirs)

__all__ = ["OBSERVATION_FIELDS", "RunSpec", "TrickSpec", "identity", "DEFAULTS", "FIELD_HELP", "FIELDS", "FLOAT_RANGE",
           "INT_MIN", "SCALARS", "check_keys", "check_scalar", "merge", "parse_set", "parse_tricks", "read_value",
           "build_spec", "check_buildable", "check_features", "check_protocols", "trick_label", "SCALE_KEYS",
           "SUITE_KEYS", "Suite", "check_labels", "find_suite", "list_suites", "load_suite", "render_reference",
           "suites_dirs"]
