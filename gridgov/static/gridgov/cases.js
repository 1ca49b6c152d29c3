// The case pages: the small map of a case, the report form's map (a tap or the device's location
// sets the point), the category's extra fields and the photo preview.
// Base tiles only when the server sets GRIDGOV_MAP_TILE_URL: intranets have no internet.
// Everything users typed is put in the page as text, never as HTML.
(function () {
  "use strict";

  const readJSON = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };

  const baseMap = (el) => {
    const map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(el.dataset.tileUrl) });
    if (el.dataset.tileUrl) {
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
    }
    return map;
  };

  const gridStyle = { color: "#1f4e79", weight: 1.5, fillColor: "#5b9bd5", fillOpacity: 0.12 };
  const pointStyle = { radius: 9, color: "#fff", weight: 2, fillColor: "#c0392b", fillOpacity: 0.95 };

  // --- the case page: the point over its grid's boundary ---
  function caseMap() {
    const el = document.getElementById("gg-case-map");
    const data = readJSON("gg-case-map-data");
    if (!el || !data || typeof L === "undefined") return;
    const map = baseMap(el);
    // The grid's name is written under the map: a label in the middle would hide the point.
    const grid = data.boundary ? L.geoJSON(data.boundary, { style: gridStyle, interactive: false }) : null;
    const marker = data.point ? L.circleMarker(data.point, pointStyle) : null;
    // The view first: a layer's tooltip opens as soon as the layer is on a map, which needs a view.
    if (grid) {
      const bounds = grid.getBounds();
      if (marker) bounds.extend(marker.getLatLng());
      map.fitBounds(bounds, { padding: [16, 16], maxZoom: 17 });
    } else {
      map.setView(data.point, 16);
    }
    if (grid) grid.addTo(map);
    if (marker) marker.addTo(map).bindTooltip(data.label);
    el.dataset.ready = "1";
  }

  // --- the report form: tap or geolocation sets lat/lng ---
  function reportMap() {
    const el = document.getElementById("gg-report-map");
    const lat = document.getElementById("id_lat");
    const lng = document.getElementById("id_lng");
    if (!el || !lat || !lng || typeof L === "undefined") return;
    const features = readJSON("gg-report-map-data") || { type: "FeatureCollection", features: [] };
    const map = baseMap(el);
    const layer = L.geoJSON(features, {
      style: gridStyle,
      onEachFeature: (f, lyr) => {
        lyr.bindTooltip(f.properties.label || f.properties.name,
          { permanent: true, direction: "center", className: "gg-map-label" });
      },
    }).addTo(map);
    let marker = null;
    const place = (latitude, longitude, pan) => {
      const point = [latitude, longitude];
      if (marker) marker.setLatLng(point);
      else marker = L.circleMarker(point, pointStyle).addTo(map);
      if (pan) map.setView(point, Math.max(map.getZoom() || 0, 16));
    };
    const fill = (latitude, longitude) => {
      lat.value = latitude.toFixed(6);
      lng.value = longitude.toFixed(6);
      place(latitude, longitude, false);
      el.dataset.point = lat.value + "," + lng.value;
    };
    // A tap on a boundary bubbles up to the map as well, so one handler serves both.
    map.on("click", (e) => fill(e.latlng.lat, e.latlng.lng));

    const current = () => {
      const a = parseFloat(lat.value);
      const b = parseFloat(lng.value);
      return Number.isFinite(a) && Number.isFinite(b) ? [a, b] : null;
    };
    const start = current();
    if (start) {
      place(start[0], start[1], false);
      map.setView(start, 16);
    } else if (features.features.length) {
      map.fitBounds(layer.getBounds(), { padding: [10, 10] });
    } else {
      map.setView([32.6, 117.0], 13);
    }
    for (const input of [lat, lng]) {
      input.addEventListener("change", () => {
        const point = current();
        if (point) place(point[0], point[1], true);
      });
    }

    const button = document.getElementById("gg-geolocate");
    const status = document.getElementById("gg-geolocate-status");
    if (button && navigator.geolocation) {
      button.hidden = false;
      button.addEventListener("click", () => {
        button.disabled = true;
        status.textContent = button.dataset.busy;
        navigator.geolocation.getCurrentPosition(
          (position) => {
            fill(position.coords.latitude, position.coords.longitude);
            map.setView([position.coords.latitude, position.coords.longitude], 17);
            status.textContent = button.dataset.done;
            button.disabled = false;
          },
          () => {
            status.textContent = button.dataset.failed;
            button.disabled = false;
          },
          { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
        );
      });
    }
    el.dataset.ready = "1";
  }

  // --- the report form: the chosen category's extra fields, from its schema ---
  function extraFields() {
    const select = document.getElementById("id_category");
    const box = document.getElementById("gg-extra-fields");
    const card = document.getElementById("gg-extra-card");
    const schemas = readJSON("gg-category-schemas");
    if (!select || !box || !card || !schemas) return;

    const make = (tag, attrs, text) => {
      const node = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const option = (value, label) => make("option", { value }, label);

    const build = (fields) => {
      // Keep what was typed when the user switches back and forth between categories.
      const typed = {};
      for (const input of box.querySelectorAll("[name^='extra.']")) typed[input.name] = input.value;
      box.replaceChildren();
      for (const f of fields) {
        const name = "extra." + f.name;
        const id = "extra-" + f.name;
        const wrap = make("div", { class: "mb-3", "data-extra": f.name });
        const label = make("label", { class: "form-label" + (f.required ? " fw-semibold" : ""), for: id }, f.label || f.name);
        if (f.required) {
          label.append(" ");
          label.appendChild(make("span", { class: "text-danger" }, "*"));
        }
        wrap.appendChild(label);
        let input;
        if (f.type === "boolean" || f.type === "choice") {
          input = make("select", { class: "form-select", name, id });
          input.appendChild(option("", "—"));
          if (f.type === "boolean") {
            input.appendChild(option("yes", box.dataset.yes));
            input.appendChild(option("no", box.dataset.no));
          } else {
            for (const c of f.choices || []) input.appendChild(option(c, c));
          }
        } else {
          input = make("input", { class: "form-control", name, id });
          if (f.type === "number") Object.assign(input, { type: "number", step: "any", inputMode: "decimal" });
          else if (f.type === "integer") Object.assign(input, { type: "number", step: "1", inputMode: "numeric" });
          else if (f.type === "date") input.type = "date";
          else Object.assign(input, { type: "text", maxLength: f.max_length || 200 });
        }
        if (typed[name] !== undefined) input.value = typed[name];
        wrap.appendChild(input);
        box.appendChild(wrap);
      }
      card.hidden = fields.length === 0;
    };

    select.addEventListener("change", () => {
      box.dataset.category = select.value;
      build(schemas[select.value] || []);
    });
    // The server already drew the fields (with their reasons) for the posted category.
    if (box.dataset.category !== select.value) build(schemas[select.value] || []);
  }

  // --- the report form: thumbnails of the chosen photos ---
  function photoPreview() {
    const input = document.getElementById("id_files");
    const preview = document.getElementById("gg-photo-preview");
    if (!input || !preview || !window.URL) return;
    input.addEventListener("change", () => {
      preview.replaceChildren();
      for (const file of input.files) {
        if (!file.type.startsWith("image/")) continue;
        const img = document.createElement("img");
        img.className = "rounded border";
        img.alt = file.name;
        img.src = URL.createObjectURL(file);
        img.onload = () => URL.revokeObjectURL(img.src);
        preview.appendChild(img);
      }
    });
  }

  caseMap();
  reportMap();
  extraFields();
  photoPreview();
})();
