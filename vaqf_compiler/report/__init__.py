"""Reports of a compiled project: inline-SVG charts (`svg`) and report.html / report.md (`write`)."""
