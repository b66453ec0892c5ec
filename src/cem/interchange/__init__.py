"""Survey interchange: definitions and responses in and out (Qualtrics, LimeSurvey, SurveyJS, CSV/XLSX)."""
