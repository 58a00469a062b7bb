"""Background work: RQ jobs on named queues and the periodic jobs that ``rq cron`` enqueues."""
