"""A site's own secrets and editable configuration: key rings (`keys`), `mcpeeker init` (`init`); their CLI is cli/site.py."""
