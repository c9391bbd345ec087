"""`mcpeeker collect`: the HTTPS collector agents ship their reports to, so no endpoint holds SIEM credentials."""
