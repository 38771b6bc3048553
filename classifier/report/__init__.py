"""Reports: communication graph, timeline, HTML/Markdown report, output files."""
