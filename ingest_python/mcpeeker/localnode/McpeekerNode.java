// Starts an embedded single-node OpenSearch 2.4.1 assembled from Debian jars.
// Reflection only, so this file compiles with nothing but the JDK on the classpath.
// org.opensearch.bootstrap.OpenSearch cannot be used here: its Lucene version check and
// security-manager setup fail with the assembled classpath.
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;

public final class McpeekerNode {
    private static final String[] PLUGINS = {
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
        "org.opensearch.script.mustache.MustachePlugin",
        "org.opensearch.geo.GeoModulePlugin",
        "org.opensearch.join.ParentJoinPlugin",
        "org.opensearch.percolator.PercolatorPlugin",
    };

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: McpeekerNode <home dir> <config dir> <node name>");
            System.exit(2);
        }
        String homeDir = args[0];
        Path configDir = Paths.get(args[1]);
        String nodeName = args[2];

        Class<?> settingsClass = Class.forName("org.opensearch.common.settings.Settings");
        Object builder = settingsClass.getMethod("builder").invoke(null);
        builder.getClass().getMethod("put", String.class, String.class).invoke(builder, "path.home", homeDir);
        Object settings = builder.getClass().getMethod("build").invoke(builder);

        Class<?> preparer = Class.forName("org.opensearch.node.InternalSettingsPreparer");
        Method prepare = preparer.getMethod("prepareEnvironment", settingsClass, Map.class, Path.class, Supplier.class);
        Supplier<String> nameSupplier = () -> nodeName;
        Object env = prepare.invoke(null, settings, Map.of(), configDir, nameSupplier);

        Class<?> envClass = Class.forName("org.opensearch.env.Environment");
        Class<?> logConfigurator = Class.forName("org.opensearch.common.logging.LogConfigurator");
        // The %node_name log pattern needs the name before logging is configured.
        logConfigurator.getMethod("setNodeName", String.class).invoke(null, nodeName);
        logConfigurator.getMethod("configure", envClass).invoke(null, env);

        List<Class<?>> plugins = new java.util.ArrayList<>();
        for (String name : PLUGINS) {
            plugins.add(Class.forName(name));
        }
        Class<?> nodeClass = Class.forName("org.opensearch.node.Node");
        Constructor<?> ctor = nodeClass.getDeclaredConstructor(envClass, Collection.class, boolean.class);
        ctor.setAccessible(true);
        Object node = ctor.newInstance(env, plugins, true);
        nodeClass.getMethod("start").invoke(node);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                nodeClass.getMethod("close").invoke(node);
            } catch (Exception e) {
                System.err.println("error while closing node: " + e);
            } finally {
                stopped.countDown();
            }
        }, "mcpeeker-node-shutdown"));
        Thread keeper = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "mcpeeker-node-keepalive");
        keeper.setDaemon(false);
        keeper.start();
    }
}
