"""Composition root: settings, clients, stores, workflows and activities."""
