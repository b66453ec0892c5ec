// The import form's column-mapping editor: reads the chosen file's header row and writes the mapping JSON.
(() => {
  const form = document.getElementById("import-form");
  if (!form) return;  // viewers see the list of runs only
  const FIELD_TYPES = JSON.parse(form.dataset.fieldTypes);
  const ROLES = {
    feedback: [["", "(ignore)"], ["submission_id", "submission id"], ["customer.external_id", "customer id"],
      ["customer.email", "customer email"], ["customer.name", "customer name"], ["customer.attribute", "customer attribute"],
      ["collected_at", "collected at"], ["language", "language"], ["touchpoint", "touchpoint key"], ["metadata", "metadata"],
      ...FIELD_TYPES.map(t => ["field." + t, "answer: " + t])],
    customers: [["", "(ignore)"], ["external_id", "customer id"], ["email", "email"], ["name", "name"], ["attribute", "attribute"]],
    events: [["", "(ignore)"], ["customer.external_id", "customer id"], ["customer.email", "customer email"],
      ["type", "event type"], ["occurred_at", "occurred at"], ["external_id", "event id"], ["touchpoint", "touchpoint key"],
      ["value", "value"], ["property", "property"]],
  };
  const GUESS = {submission_id: "submission_id", response_id: "submission_id", review_id: "submission_id", id: "submission_id",
    customer_id: "customer.external_id", external_id: "customer.external_id", email: "customer.email", name: "customer.name",
    collected_at: "collected_at", date: "collected_at", created_at: "collected_at", language: "language", lang: "language",
    touchpoint: "touchpoint", nps: "field.nps", csat: "field.csat", ces: "field.ces", rating: "field.rating",
    score: "field.rating", stars: "field.rating", comment: "field.text", comments: "field.text", feedback: "field.text",
    text: "field.text", message: "field.text", review: "field.text"};
  const fileInput = document.getElementById("import-file"), target = document.getElementById("import-target");
  const editor = document.getElementById("mapping-editor"), rows = document.getElementById("editor-rows");
  const textarea = document.getElementById("import-mapping"), source = document.getElementById("editor-source");
  let header = [];

  function splitHeader(line) {
    const counts = [",", ";", "\t", "|"].map(d => [d, line.split(d).length]);
    const delim = counts.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    const out = []; let cur = "", quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted) { if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c; }
      else if (c === '"') quoted = true; else if (c === delim) { out.push(cur.trim()); cur = ""; } else cur += c;
    }
    out.push(cur.trim());
    return out;
  }

  function guess(col, kind) {
    const g = GUESS[col.toLowerCase().replace(/[\s-]+/g, "_")] || "";
    if (kind === "feedback") return g;
    if (kind === "customers") return {"customer.external_id": "external_id", "customer.email": "email", "customer.name": "name"}[g] || "";
    return g.startsWith("customer.") ? g : "";
  }

  function render() {
    const kind = target.value;
    rows.replaceChildren();
    for (const col of header) {
      const tr = document.createElement("tr");
      const name = document.createElement("td"); name.textContent = col;
      const sel = document.createElement("select"); sel.dataset.column = col;
      for (const [value, label] of ROLES[kind]) sel.add(new Option(label, value, false, value === guess(col, kind)));
      const lab = document.createElement("input"); lab.placeholder = "question text"; lab.dataset.label = col;
      const td1 = document.createElement("td"), td2 = document.createElement("td");
      td1.append(sel); td2.append(lab); tr.append(name, td1, td2); rows.append(tr);
    }
    editor.hidden = header.length === 0;
  }

  function build() {
    const kind = target.value, m = kind === "feedback" ? {source_type: "csv", source_name: source.value || "import", fields: []} : {};
    const customer = {attributes: {}}, attrs = {};
    for (const sel of rows.querySelectorAll("select")) {
      const col = sel.dataset.column, role = sel.value;
      const label = rows.querySelector(`input[data-label="${CSS.escape(col)}"]`).value;
      if (!role) continue;
      if (role.startsWith("field.")) m.fields.push({column: col, field_type: role.slice(6), ...(label ? {label} : {})});
      else if (role === "customer.attribute") customer.attributes[col] = col;
      else if (role.startsWith("customer.")) customer[role.slice(9)] = col;
      else if (role === "attribute") attrs[col] = col;
      else if (role === "metadata") (m.metadata = m.metadata || []).push(col);
      else if (role === "property") (m.properties = m.properties || []).push(col);
      else m[role] = col;
    }
    if (Object.keys(customer).length > 1 || Object.keys(customer.attributes).length) m.customer = customer;
    if (kind === "customers") m.attributes = attrs;
    textarea.value = JSON.stringify(m, null, 2);
  }

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    header = [];
    if (file && !/\.(ndjson|jsonl)$/i.test(file.name)) {
      const head = await file.slice(0, 65536).text();
      header = splitHeader(head.replace(/^\ufeff/, "").split(/\r?\n/)[0]).filter(Boolean);
    }
    render();
  });
  target.addEventListener("change", () => { render(); if (textarea.value) build(); });
  editor.addEventListener("change", build);
  source.addEventListener("input", build);
})();
