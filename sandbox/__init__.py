"""An offline stand-in for Omise's test mode. Development and tests only: the shop reaches it
over HTTP exactly as it reaches Omise, and production code never imports it."""
