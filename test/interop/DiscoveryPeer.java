// DiscoveryPeer: Curator's service discovery (curator-x-discovery 5.4) on the same registry as
// zk-recipes' ServiceDiscovery, for test/interop-discovery.test.ts (compiled by
// test/interop/curator.ts with the other peers).
//
//   java -cp <classpath> DiscoveryPeer register CONNECT BASE STOPFILE NAME ID map|string
//   java -cp <classpath> DiscoveryPeer watch    CONNECT BASE STOPFILE NAME map|string|object
//
// register: registers one instance (payload a Map or a String, with Curator's default
// JsonInstanceSerializer), prints "registered <instance>" and "ready"; once STOPFILE exists,
// unregisters it, prints "unregistered" and exits 0.
// watch: a ServiceDiscovery built with that payload class and a ServiceCache of NAME; prints
// "ready", then "cache <instances>" for the cache's list at start and on each cacheChanged, and
// "query <instances>" each time queryForInstances(NAME) (polled every 50 ms) answers differently;
// exits 0 once STOPFILE exists.
//
// <instance> is JSON with every field as Curator's getters return it, plus "payloadClass" (the
// payload's Java class), "uri" (buildUriSpec()), "bytes" and "fullBytes" (base64 of what Curator's
// default serializer, and the one that keeps `enabled`, write for it); <instances> is a JSON array
// of them sorted by id.

import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.UriSpec;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.details.ServiceCacheListener;

public class DiscoveryPeer {
    static final ObjectMapper JSON = new ObjectMapper();
    static final JsonInstanceSerializer<Object> DEFAULT = new JsonInstanceSerializer<>(Object.class);
    static final JsonInstanceSerializer<Object> FULL = new JsonInstanceSerializer<>(Object.class, false);

    public static void main(String[] a) throws Exception {
        if (a.length < (a.length > 0 && a[0].equals("register") ? 7 : 6)) {
            System.err.println("usage: DiscoveryPeer register|watch CONNECT BASE STOPFILE NAME ID|CLASS [map|string]");
            System.exit(2);
        }
        try (CuratorFramework c = CuratorFrameworkFactory.builder().connectString(a[1])
                .sessionTimeoutMs(4000).connectionTimeoutMs(10000)
                .retryPolicy(new ExponentialBackoffRetry(100, 5)).build()) {
            c.start();
            c.blockUntilConnected();
            if (a[0].equals("register")) register(c, a[2], a[3], a[4], a[5], a[6]);
            else watch(c, a[2], a[3], a[4], a[5]);
        }
    }

    static void register(CuratorFramework c, String base, String stop, String name, String id, String kind) throws Exception {
        Object payload;
        if (kind.equals("map")) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("region", "eu-west");
            m.put("weight", 3);
            m.put("tags", List.of("a", "b"));
            m.put("nested", Map.of("ok", true));
            payload = m;
        } else {
            payload = "plain payload from java";
        }
        ServiceInstance<Object> instance = ServiceInstance.builder().name(name).id(id).address("10.1.2.3").port(8080).sslPort(8443)
            .payload(payload).registrationTimeUTC(1700000000123L).uriSpec(new UriSpec("{scheme}://{address}:{ssl-port}/api")).build();
        ServiceDiscovery<Object> d = ServiceDiscoveryBuilder.builder(Object.class).client(c).basePath(base).build();
        d.start();
        d.registerService(instance);
        say("registered " + describe(instance));
        say("ready");
        while (!Files.exists(Paths.get(stop))) Thread.sleep(50);
        d.unregisterService(instance);
        say("unregistered");
        d.close();
    }

    @SuppressWarnings("unchecked")
    static void watch(CuratorFramework c, String base, String stop, String name, String kind) throws Exception {
        Class<?> cls = kind.equals("map") ? Map.class : kind.equals("string") ? String.class : Object.class;
        ServiceDiscovery<Object> d = ServiceDiscoveryBuilder.builder((Class<Object>) cls).client(c).basePath(base).build();
        d.start();
        ServiceCache<Object> cache = d.serviceCacheBuilder().name(name).build();
        cache.addListener(new ServiceCacheListener() {
            @Override public void cacheChanged() { say("cache " + describeAll(cache.getInstances())); }
            @Override public void stateChanged(CuratorFramework client, ConnectionState state) { }
        });
        cache.start();
        say("cache " + describeAll(cache.getInstances()));
        say("ready");
        String last = null;
        while (!Files.exists(Paths.get(stop))) {
            String now;
            try {
                now = describeAll(d.queryForInstances(name));
            } catch (Exception e) {
                now = "error " + e;
            }
            if (!now.equals(last)) { say("query " + now); last = now; }
            Thread.sleep(50);
        }
        cache.close();
        d.close();
    }

    static String describeAll(Collection<ServiceInstance<Object>> instances) {
        List<ServiceInstance<Object>> sorted = new ArrayList<>(instances);
        sorted.sort(Comparator.comparing(ServiceInstance::getId));
        StringBuilder out = new StringBuilder("[");
        for (ServiceInstance<Object> i : sorted) out.append(out.length() > 1 ? "," : "").append(describe(i));
        return out.append("]").toString();
    }

    static String describe(ServiceInstance<Object> i) {
        try {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", i.getName());
            m.put("id", i.getId());
            m.put("address", i.getAddress());
            m.put("port", i.getPort());
            m.put("sslPort", i.getSslPort());
            m.put("payload", i.getPayload());
            m.put("payloadClass", i.getPayload() == null ? null : i.getPayload().getClass().getName());
            m.put("registrationTimeUTC", i.getRegistrationTimeUTC());
            m.put("serviceType", i.getServiceType() == null ? null : i.getServiceType().name());
            List<Map<String, Object>> parts = null;
            if (i.getUriSpec() != null) {
                parts = new ArrayList<>();
                for (UriSpec.Part p : i.getUriSpec()) parts.add(Map.of("value", p.getValue(), "variable", p.isVariable()));
            }
            m.put("uriSpec", parts);
            m.put("enabled", i.isEnabled());
            m.put("uri", i.buildUriSpec());
            m.put("bytes", Base64.getEncoder().encodeToString(DEFAULT.serialize(i)));
            m.put("fullBytes", Base64.getEncoder().encodeToString(FULL.serialize(i)));
            return JSON.writeValueAsString(m);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    static synchronized void say(String s) { System.out.println(s); System.out.flush(); }
}
