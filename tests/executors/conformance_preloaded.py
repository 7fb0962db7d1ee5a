"""A module the conformance suite has executors preload for forked tasks: a task sees
it imported only if it runs in a process that imported it before the task started."""
