// Package geotest writes small MaxMind DB country databases for tests of
// packages that resolve countries.
package geotest

import (
	"cmp"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/stretchr/testify/require"
)

// WriteDB writes to path a "GeoIP2-Country" database mapping each CIDR of
// nets (for instance "81.2.69.0/24" or "2001:db8::/32") to a record
// {"country": {"iso_code": ISO}}, as MaxMind and DB-IP country databases
// shape them. Where CIDRs nest, the narrower one wins. Reserved networks are allowed. It fails t on any error. It is
// safe for concurrent use with distinct paths.
func WriteDB(t testing.TB, path string, nets map[string]string) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoIP2-Country",
		Description:             map[string]string{"en": "geotest country database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true,
		RecordSize:              24,
	})
	require.NoError(t, err, "cannot create mmdb tree")
	type entry struct {
		network *net.IPNet
		iso     string
	}
	entries := make([]entry, 0, len(nets))
	for cidr, iso := range nets {
		_, network, err := net.ParseCIDR(cidr)
		require.NoError(t, err, "cannot parse CIDR %q", cidr)
		entries = append(entries, entry{network, iso})
	}
	// Wider networks first, so a narrower one nested in it wins. IPv4
	// networks sit at ::/96 in the IPv6 tree.
	bits := func(n *net.IPNet) int {
		ones, size := n.Mask.Size()
		return ones + 128 - size
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(bits(a.network), bits(b.network)), cmp.Compare(a.network.String(), b.network.String()))
	})
	for _, e := range entries {
		err = tree.Insert(e.network, mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(e.iso)},
		})
		require.NoError(t, err, "cannot insert %s", e.network)
	}
	f, err := os.Create(path)
	require.NoError(t, err, "cannot create mmdb file")
	_, err = tree.WriteTo(f)
	require.NoError(t, err, "cannot write mmdb file")
	require.NoError(t, f.Close(), "cannot close mmdb file")
}
