"""Report: the JSON artifact, the terminal / markdown / GitHub text, the HTML report and the history."""
