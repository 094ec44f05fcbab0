"""The tasks: one pyinfra deploy file each, run in order by deploy.py and each runnable alone."""
