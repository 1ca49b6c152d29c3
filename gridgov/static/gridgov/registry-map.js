// Draws the registry's layers (GeoJSON in #gg-registry-map-data) on a Leaflet map: grid boundaries,
// buildings as circles coloured by use (self-built in orange), shops as markers, places as points
// and lines, with a layer control and popups that link to the detail pages.
// Base tiles only when the server sets GRIDGOV_MAP_TILE_URL: intranets have no internet.
(function () {
  "use strict";
  const el = document.getElementById("gg-registry-map");
  const data = document.getElementById("gg-registry-map-data");
  if (!el || !data || typeof L === "undefined") return;
  const payload = JSON.parse(data.textContent);
  const colours = payload.colours || { uses: {}, kinds: {} };
  const map = L.map(el, { zoomSnap: 0.25, attributionControl: Boolean(el.dataset.tileUrl) });
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  }

  // Popups are built as elements, never from HTML strings: names come from users.
  const popup = (f, lyr) => {
    const box = document.createElement("div");
    const name = document.createElement(f.properties.url ? "a" : "strong");
    if (f.properties.url) name.href = f.properties.url;
    name.textContent = f.properties.name;
    box.appendChild(name);
    if (f.properties.detail) {
      const detail = document.createElement("div");
      detail.className = "small text-muted";
      detail.textContent = f.properties.detail;
      box.appendChild(detail);
    }
    lyr.bindPopup(box);
  };
  const shopIcon = L.divIcon({
    className: "",
    html: '<span style="display:flex;align-items:center;justify-content:center;width:22px;height:22px;' +
      'border-radius:50%;background:#fff;border:2px solid #c0392b;color:#c0392b;font-size:12px">' +
      '<i class="bi bi-shop"></i></span>',
    iconSize: [22, 22],
    iconAnchor: [11, 11],
    popupAnchor: [0, -10],
  });
  const builders = {
    grids: (fc) => L.geoJSON(fc, {
      style: { color: "#1f4e79", weight: 1.2, fillColor: "#5b9bd5", fillOpacity: 0.1 },
      interactive: false,
      onEachFeature: (f, lyr) => {
        if (f.properties.level === "grid") {
          lyr.bindTooltip(f.properties.label || f.properties.name,
            { permanent: true, direction: "center", className: "gg-map-label" });
        }
      },
    }),
    buildings: (fc) => L.geoJSON(fc, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {
        radius: f.properties.self_built ? 7 : 6,
        color: "#fff",
        weight: 1.5,
        fillColor: colours.uses[f.properties.use] || "#2f6db5",
        fillOpacity: 0.95,
      }),
      onEachFeature: popup,
    }),
    shops: (fc) => L.geoJSON(fc, {
      pointToLayer: (f, latlng) => L.marker(latlng, { icon: shopIcon, title: f.properties.name }),
      onEachFeature: popup,
    }),
    places: (fc) => L.geoJSON(fc, {
      style: (f) => ({ color: colours.kinds[f.properties.kind] || "#6c757d", weight: 5, opacity: 0.85, fillOpacity: 0.2 }),
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {
        radius: 5, color: "#fff", weight: 1.5, fillColor: colours.kinds[f.properties.kind] || "#6c757d", fillOpacity: 1,
      }),
      onEachFeature: popup,
    }),
  };

  const overlays = {};
  const bounds = L.latLngBounds([]);
  let drawn = 0;
  for (const layer of payload.layers || []) {
    const build = builders[layer.key];
    if (!build) continue;
    const group = build(layer.features).addTo(map);
    const n = layer.features.features.length;
    el.dataset[layer.key] = String(n);
    drawn += n;
    if (n) bounds.extend(group.getBounds());
    overlays[`${layer.name} (${n})`] = group;
  }
  if (Object.keys(overlays).length > 1) {
    L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  }
  el.dataset.features = String(drawn);
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [16, 16], maxZoom: 17 });
  } else {
    map.setView([32.6, 117.0], 13);
  }
  el.dataset.ready = "1";
})();
