"""CDK constructs and stacks (network, data, storage, queues, api, workers, scheduler, media, observability).

Resource names come from shared/resources.py, which the laptop stack uses too.
"""
