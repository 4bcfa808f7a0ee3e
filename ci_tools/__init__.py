"""Tooling that runs in CI or by hand, never at synth: outside-scanner wrappers (cfn-lint, checkov)
and the supply-chain audit (SBOMs, vulnerability scan). Synth-time code lives in ``compliance/``."""
