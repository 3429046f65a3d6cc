"""Developer tools: screenshots and the browser set-up shared with the browser tests."""
