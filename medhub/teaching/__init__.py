"""Teaching tools (issue 19): predictive values at a prevalence, the Korean glossary, the PDF report,
case decks for class mode. Everything here reads the cards and runs images through `medhub.pipeline`,
the app's code path; nothing here changes the `/predict_<id>` API."""
