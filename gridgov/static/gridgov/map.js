// Draws the area boundaries of the page (GeoJSON in #gg-map-features) on a Leaflet map.
// Base tiles only when the server sets GRIDGOV_MAP_TILE_URL: intranets have no internet.
(function () {
  "use strict";
  const el = document.getElementById("gg-map");
  const data = document.getElementById("gg-map-features");
  if (!el || !data || typeof L === "undefined") return;
  const features = JSON.parse(data.textContent);
  const map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(el.dataset.tileUrl) });
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  }
  const styles = {
    subdistrict: { color: "#1f4e79", weight: 3, fillOpacity: 0.02 },
    community: { color: "#c0392b", weight: 2.5, fillOpacity: 0.04, dashArray: "6 4" },
    grid: { color: "#1f4e79", weight: 1.2, fillColor: "#5b9bd5", fillOpacity: 0.18 },
    group: { color: "#7f8c8d", weight: 0.8, fillOpacity: 0.06 },
  };
  // Grids take their community's colour, so the four communities read at a glance.
  const palette = ["#5b9bd5", "#70ad47", "#ffc000", "#a5a5f0", "#ed7d31", "#4bacc6", "#9e480e", "#7cafdd"];
  const communities = [...new Set(features.features.map((f) => f.properties.community))].sort();
  // Label the finest level drawn: groups inside a grid, grids elsewhere.
  const labelled = features.features.some((g) => g.properties.level === "group") ? "group" : "grid";
  const colourOf = (f) => palette[communities.indexOf(f.properties.community) % palette.length];
  const layer = L.geoJSON(features, {
    style: (f) => Object.assign({}, styles[f.properties.level] || styles.grid,
      f.properties.level === "grid" && communities.length > 1 ? { fillColor: colourOf(f) } : {},
      f.properties.mode === "emergency" ? { fillColor: "#e74c3c", fillOpacity: 0.3 } : {}),
    onEachFeature: (f, lyr) => {
      const link = document.createElement("a");
      link.href = f.properties.url;
      link.textContent = f.properties.name;
      const box = document.createElement("div");
      box.appendChild(link);
      box.appendChild(document.createElement("br"));
      const code = document.createElement("code");
      code.textContent = f.properties.code;
      box.appendChild(code);
      lyr.bindPopup(box);
      if (f.properties.level === labelled) {
        lyr.bindTooltip(f.properties.label || f.properties.name,
          { permanent: true, direction: "center", className: "gg-map-label" });
      }
    },
  }).addTo(map);
  el.dataset.features = String(features.features.length);
  if (features.features.length) {
    map.fitBounds(layer.getBounds(), { padding: [10, 10] });
  } else {
    map.setView([32.6, 117.0], 13);
  }
  el.dataset.ready = "1";
})();
