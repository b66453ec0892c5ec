"""Topics: discovery (two levels, c-TF-IDF labels), assignment of new feedback, edits that survive re-discovery.

Importing the package loads nothing: the privacy registry imports its models from every `cem` command.
"""
