"""Tests of the modules of lrbnn_core.layers."""
