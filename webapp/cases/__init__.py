"""Problems (cases): visits, intake, the workflow, assignment, visibility and queues."""
