"""artgan studio: a local web app (Gradio) over a workspace of collections, runs, jobs and outputs."""
