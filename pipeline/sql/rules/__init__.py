"""Topic rules in AWS IoT SQL."""
