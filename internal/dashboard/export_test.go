package dashboard

// Route kinds as the tests see them.
const (
	TableRoute     = "table"
	RawEventsRoute = "raw_events"
	CatalogRoute   = "catalog"
)

// APIRoute is an API route as the tests see it.
type APIRoute struct {
	Path string
	Kind string
}

// APIRoutes returns every route of the query API.
func APIRoutes() []APIRoute {
	kinds := map[routeKind]string{tableRoute: TableRoute, rawEventsRoute: RawEventsRoute, catalogRoute: CatalogRoute}
	routes := make([]APIRoute, len(apiRoutes))
	for i, route := range apiRoutes {
		kind, ok := kinds[route.kind]
		if !ok {
			kind = "unknown"
		}
		routes[i] = APIRoute{Path: route.path, Kind: kind}
	}
	return routes
}
