//! Reading a loaded inventory: hosts, groups, the `groups`/`group_names` magic variables, and
//! each host's merged variables in Ansible's precedence order.

use indexmap::IndexMap;

use crate::vars::Vars;

use super::model::{Group, Host, Inventory, ALL};

impl Inventory {
    /// Every host, in inventory order (order of first appearance). The implicit `localhost`
    /// is not among them.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// A host of the inventory by name.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    /// A host of the inventory, or the implicit local host for `localhost`, `127.0.0.1` or
    /// `::1` when the inventory does not list it (`ansible_connection=local`, in no group).
    pub fn host_or_implicit(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name).or_else(|| self.implicit.get(name))
    }

    /// Every group, `all` and `ungrouped` first, then in order of first appearance.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// A group by name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// The hosts of a group, including those of its descendants, in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<&Host> {
        self.hosts
            .values()
            .filter(|h| h.all_groups.contains(group))
            .collect()
    }

    /// The `group_names` magic variable: the host's groups (direct and inherited), sorted,
    /// without `all`. As in Ansible, a host in no group gets `["ungrouped"]`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let Some(host) = self.hosts.get(host) else {
            return Vec::new();
        };
        let mut names: Vec<String> = host
            .all_groups
            .iter()
            .filter(|g| *g != ALL)
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// The `groups` magic variable: every group (with `all` and `ungrouped`) → its hosts,
    /// descendants' included, in inventory order.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|group| {
                let hosts = self
                    .group_hosts(group)
                    .into_iter()
                    .map(|h| h.name.clone())
                    .collect();
                (group.clone(), hosts)
            })
            .collect()
    }

    /// The host's groups in the order their variables apply: by depth (`all` first, parents
    /// before children), then `ansible_group_priority`, then name.
    pub fn vars_order(&self, host: &str) -> Vec<&Group> {
        let Some(host) = self.host_or_implicit(host) else {
            return Vec::new();
        };
        let mut groups: Vec<&Group> = host
            .all_groups
            .iter()
            .filter_map(|g| self.groups.get(g))
            .collect();
        groups.sort_by(|a, b| (a.depth, a.priority, &a.name).cmp(&(b.depth, b.priority, &b.name)));
        groups
    }

    /// A host's variables from every inventory layer, merged (later wins): inventory-file
    /// group vars, `group_vars/all` (inventory's, then playbook's), `group_vars/<group>`
    /// (inventory's, then playbook's; groups in [`Inventory::vars_order`]), inventory-file host
    /// vars, `host_vars/<host>` (inventory's, then playbook's). Templates are not rendered.
    /// Empty for an unknown host.
    pub fn host_vars(&self, host: &str) -> Vars {
        let Some(entry) = self.host_or_implicit(host) else {
            return Vars::new();
        };
        let groups = self.vars_order(host);
        let mut vars = Vars::new();
        for group in &groups {
            vars.extend(group.vars.clone());
        }
        for layer in [&self.inventory_vars, &self.playbook_vars] {
            for dirs in layer {
                if let Some(found) = dirs.groups.get(ALL) {
                    vars.extend(found.clone());
                }
            }
        }
        for layer in [&self.inventory_vars, &self.playbook_vars] {
            for dirs in layer {
                for group in groups.iter().filter(|g| g.name != ALL) {
                    if let Some(found) = dirs.groups.get(&group.name) {
                        vars.extend(found.clone());
                    }
                }
            }
        }
        vars.extend(entry.vars.clone());
        for layer in [&self.inventory_vars, &self.playbook_vars] {
            for dirs in layer {
                if let Some(found) = dirs.hosts.get(host) {
                    vars.extend(found.clone());
                }
            }
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::test_support::{json_vars, load_text, write};
    use serde_json::json;

    const INI: &str = "\
lonely ansible_host=10.0.0.9
[web]
web1 ansible_host=10.0.0.1 tier=1
web2
[db]
db1 ansible_port=2222
[prod:children]
web
db
[prod:vars]
env=prod
[web:vars]
http_port=80
";

    const YAML: &str = "\
all:
  hosts:
    lonely: {ansible_host: 10.0.0.9}
  children:
    prod:
      vars: {env: prod}
      children:
        web:
          hosts:
            web1: {ansible_host: 10.0.0.1, tier: 1}
            web2:
          vars: {http_port: 80}
        db:
          hosts:
            db1: {ansible_port: 2222}
";

    fn without_source_vars(
        mut vars: serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Map<String, serde_json::Value> {
        vars.remove("inventory_file");
        vars.remove("inventory_dir");
        vars
    }

    #[test]
    fn ini_and_yaml_equivalents_load_the_same_inventory() {
        let ini = load_text("hosts", INI);
        let yaml = load_text("hosts.yml", YAML);
        for group in ["all", "ungrouped", "web", "db", "prod"] {
            let names = |inv: &Inventory| -> Vec<String> {
                inv.group_hosts(group)
                    .iter()
                    .map(|h| h.name.clone())
                    .collect()
            };
            let mut a = names(&ini);
            let mut b = names(&yaml);
            a.sort();
            b.sort();
            assert_eq!(a, b, "group {group}");
        }
        for host in ["lonely", "web1", "web2", "db1"] {
            assert_eq!(
                without_source_vars(json_vars(&ini, host)),
                without_source_vars(json_vars(&yaml, host)),
                "host {host}"
            );
            assert_eq!(ini.group_names(host), yaml.group_names(host));
        }
        assert_eq!(ini.group("prod").unwrap().children, ["web", "db"]);
        assert_eq!(yaml.group("prod").unwrap().children, ["web", "db"]);
    }

    #[test]
    fn group_names_are_sorted_inherited_and_exclude_all() {
        let inventory = load_text("hosts", INI);
        assert_eq!(inventory.group_names("web1"), ["prod", "web"]);
        assert_eq!(inventory.group_names("lonely"), ["ungrouped"]);
        assert!(inventory.group_names("nobody").is_empty());
    }

    #[test]
    fn groups_map_lists_every_group_with_descendant_hosts() {
        let inventory = load_text("hosts", INI);
        let groups = inventory.groups_map();
        assert_eq!(
            groups.keys().collect::<Vec<_>>(),
            ["all", "ungrouped", "web", "db", "prod"]
        );
        assert_eq!(groups["all"], ["lonely", "web1", "web2", "db1"]);
        assert_eq!(groups["prod"], ["web1", "web2", "db1"]);
        assert_eq!(groups["ungrouped"], ["lonely"]);
    }

    #[test]
    fn a_host_with_a_group_leaves_ungrouped_even_if_listed_first() {
        let inventory = load_text("hosts", "web1\n[web]\nweb1\n");
        assert!(inventory.group("ungrouped").unwrap().hosts.is_empty());
        assert_eq!(inventory.group_names("web1"), ["web"]);
    }

    #[test]
    fn child_group_vars_beat_parent_group_vars_and_host_vars_beat_both() {
        let inventory = load_text(
            "hosts",
            "[web]\nweb1 x=host\nweb2\n[prod:children]\nweb\n[prod:vars]\nx=parent\ny=parent\n[web:vars]\ny=child\nx=child\n[all:vars]\nx=all\nz=all\n",
        );
        let web1 = json_vars(&inventory, "web1");
        assert_eq!(
            (web1["x"].clone(), web1["y"].clone(), web1["z"].clone()),
            (json!("host"), json!("child"), json!("all"))
        );
        assert_eq!(json_vars(&inventory, "web2")["x"], json!("child"));
    }

    #[test]
    fn group_priority_orders_groups_of_equal_depth() {
        let text = "[a]\nh1\n[b]\nh1\n[a:vars]\nx=a\n[b:vars]\nx=b\n";
        assert_eq!(json_vars(&load_text("hosts", text), "h1")["x"], json!("b"));
        let prioritised = format!("{text}[a:vars]\nansible_group_priority=10\n");
        assert_eq!(
            json_vars(&load_text("hosts", &prioritised), "h1")["x"],
            json!("a")
        );
    }

    #[test]
    fn group_vars_dirs_beat_inventory_file_group_vars_but_not_host_vars() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(
            dir.path(),
            "hosts",
            "[web]\nweb1 h=inline\n[web:vars]\ng=inline\nh=group\n[all:vars]\na=inline\n",
        );
        write(dir.path(), "group_vars/web.yml", "g: dir\nh: dir\n");
        write(dir.path(), "group_vars/all.yml", "a: dir\n");
        let inventory = Inventory::load(&[hosts]).unwrap();
        let vars = json_vars(&inventory, "web1");
        assert_eq!(
            (vars["g"].clone(), vars["h"].clone(), vars["a"].clone()),
            (json!("dir"), json!("inline"), json!("dir"))
        );
    }

    #[test]
    fn group_vars_all_file_beats_inventory_file_vars_of_any_group() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(dir.path(), "hosts", "[web]\nweb1\n[web:vars]\nx=inline\n");
        write(dir.path(), "group_vars/all.yml", "x: all\n");
        let inventory = Inventory::load(&[hosts]).unwrap();
        assert_eq!(json_vars(&inventory, "web1")["x"], json!("all"));
    }

    #[test]
    fn host_vars_files_beat_inline_host_vars() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(dir.path(), "hosts", "web1 x=inline\n");
        write(dir.path(), "host_vars/web1", "x: file\n");
        let inventory = Inventory::load(&[hosts]).unwrap();
        assert_eq!(json_vars(&inventory, "web1")["x"], json!("file"));
    }

    #[test]
    fn playbook_vars_dirs_beat_inventory_vars_dirs_of_the_same_kind() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(dir.path(), "inv/hosts", "[web]\nweb1\n");
        write(dir.path(), "inv/group_vars/all.yml", "a: inv\nkeep: inv\n");
        write(dir.path(), "inv/group_vars/web.yml", "g: inv\n");
        write(dir.path(), "inv/host_vars/web1.yml", "h: inv\n");
        write(dir.path(), "play/group_vars/all.yml", "a: play\n");
        write(dir.path(), "play/group_vars/web.yml", "g: play\n");
        write(dir.path(), "play/host_vars/web1.yml", "h: play\n");
        let mut inventory = Inventory::load(&[hosts]).unwrap();
        inventory.add_vars_dirs(&dir.path().join("play")).unwrap();
        let vars = json_vars(&inventory, "web1");
        assert_eq!(vars["a"], json!("play"));
        assert_eq!(vars["keep"], json!("inv"));
        assert_eq!(vars["g"], json!("play"));
        assert_eq!(vars["h"], json!("play"));
    }

    #[test]
    fn playbook_group_vars_all_still_loses_to_inventory_group_vars_of_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(dir.path(), "inv/hosts", "[web]\nweb1\n");
        write(dir.path(), "inv/group_vars/web.yml", "x: inv-web\n");
        write(dir.path(), "play/group_vars/all.yml", "x: play-all\n");
        let mut inventory = Inventory::load(&[hosts]).unwrap();
        inventory.add_vars_dirs(&dir.path().join("play")).unwrap();
        assert_eq!(json_vars(&inventory, "web1")["x"], json!("inv-web"));
    }

    #[test]
    fn the_implicit_localhost_is_local_and_outside_all() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = write(dir.path(), "hosts", "web1\n[all:vars]\nshared=1\n");
        write(dir.path(), "group_vars/all.yml", "from_dir: 2\n");
        let inventory = Inventory::load(&[hosts]).unwrap();
        assert!(inventory.host("localhost").is_none());
        let local = inventory.host_or_implicit("localhost").unwrap();
        assert!(local.implicit);
        let vars = json_vars(&inventory, "localhost");
        assert_eq!(vars["ansible_connection"], json!("local"));
        assert_eq!(vars["shared"], json!(1));
        assert_eq!(vars["from_dir"], json!(2));
        assert_eq!(inventory.groups_map()["all"], ["web1"]);
    }

    #[test]
    fn a_listed_localhost_is_an_ordinary_host() {
        let inventory = load_text("hosts", "localhost ansible_connection=ssh\n");
        let local = inventory.host_or_implicit("localhost").unwrap();
        assert!(!local.implicit);
        assert_eq!(
            json_vars(&inventory, "localhost")["ansible_connection"],
            json!("ssh")
        );
    }
}
