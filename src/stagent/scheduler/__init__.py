"""Schedules: cron, interval and one-shot timings, firing limits, expiry, overlap and missed-run
policies, and durable exactly-once firing (see `stagent.scheduler.service`)."""
