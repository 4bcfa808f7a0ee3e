"""Deploy-time function that puts an AWS Config managed conformance pack by its source identifier."""
