"""Core machinery: storage backends, the store API and metadata."""
