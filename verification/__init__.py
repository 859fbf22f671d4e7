"""Claim registry, property-based and statistical checks, sweeps and the ``lrbnn`` command line."""

from verification.registry import CLAIMS, Claim, Kind, Outcome, Profile, Verdict, claim_by_id

__all__ = ["CLAIMS", "Claim", "Kind", "Outcome", "Profile", "Verdict", "claim_by_id"]
