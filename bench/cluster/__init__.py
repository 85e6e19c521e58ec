"""Cluster launching through submitit: profiles, preflight checks, job arrays, snapshots, requeue."""
