"""Custom search attributes that make runs findable in the Temporal Web UI."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

# The patch under which runs set them: runs recorded before it replay without.
PATCH = "search-attributes"

INTENT = SearchAttributeKey.for_keyword("OrchestratorIntent")
STATUS = SearchAttributeKey.for_keyword("OrchestratorStatus")
TENANT = SearchAttributeKey.for_keyword("OrchestratorTenant")

# Name and type of each, as `temporal server start-dev --search-attribute` takes them.
DEFINITIONS = {key.name: "Keyword" for key in (INTENT, STATUS, TENANT)}
