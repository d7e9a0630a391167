"""The Open311 GeoReport v2 API for the district 12345 platform: work orders come in as problems
for the 12345 campaign desk, their status and the reply to the resident flow back (GET and a
signed webhook); API keys per outside system, created and revoked by the system admin."""
