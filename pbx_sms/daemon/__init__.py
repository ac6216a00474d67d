"""The daemon: AMI listener + call intake + outbox worker in one asyncio process."""
