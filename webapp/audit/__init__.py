"""The audit admin's area (审计管理员): read, export and verify the audit log — nothing else."""
