"""Survey exporters: the definition as SurveyJS JSON, responses as CSV and XLSX."""
