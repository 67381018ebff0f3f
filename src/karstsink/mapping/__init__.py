"""Province-wide karst (MPD) and biological sink maps, streamed block by block."""
