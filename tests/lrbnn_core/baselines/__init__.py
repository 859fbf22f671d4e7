"""Tests of lrbnn_core.baselines."""
